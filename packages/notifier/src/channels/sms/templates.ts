/**
 * Default template of the SMS channel: one short line, no emoji (it would force UCS-2 and halve
 * the length of a segment). Cut to `maxLength` after rendering.
 */
export const SMS_TEXT =
  '{{#if firing}}{{upper severity}}{{else}}RESOLVED{{/if}}: {{name}}{{onTarget}}' +
  '{{#if multiple}} ({{firingCount}} firing, {{resolvedCount}} resolved){{else}}{{#with alert}} {{#if fraction}}{{percent value}}{{else}}{{number value}}{{/if}}{{#if annotations.summary}} - {{annotations.summary}}{{/if}}{{/with}}{{/if}}' +
  ' at {{time createdAt}}';

export const SMS_TEMPLATES: Record<string, string> = {
  'sms.text': SMS_TEXT,
};
