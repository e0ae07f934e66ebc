import { GROUP_TEXT, GROUP_TITLE } from '../../templates/defaults.js';

/** Default templates of the console channel. */
export const CONSOLE_TEMPLATES: Record<string, string> = {
  'console.title': GROUP_TITLE,
  'console.text': GROUP_TEXT,
};
