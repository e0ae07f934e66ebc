import { GROUP_TEXT, GROUP_TITLE } from '../../templates/defaults.js';

/** Default templates of the Slack channel: the attachment's title and text (Slack mrkdwn). */
export const SLACK_TEMPLATES: Record<string, string> = {
  'slack.title': GROUP_TITLE,
  'slack.text': GROUP_TEXT,
};
