import { GROUP_TEXT, GROUP_TITLE } from '../../templates/defaults.js';

/** Default templates of the file channel: the title and text stored beside the notification. */
export const FILE_TEMPLATES: Record<string, string> = {
  'file.title': GROUP_TITLE,
  'file.text': GROUP_TEXT,
};
