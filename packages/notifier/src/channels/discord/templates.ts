import { GROUP_TEXT, GROUP_TITLE } from '../../templates/defaults.js';

/** Default templates of the Discord channel: the embed's title and description (Discord markdown). */
export const DISCORD_TEMPLATES: Record<string, string> = {
  'discord.title': GROUP_TITLE,
  'discord.text': GROUP_TEXT,
};
