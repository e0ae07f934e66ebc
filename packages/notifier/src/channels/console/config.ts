import { Type } from '@sinclair/typebox';

/** Options of the `console` channel: notifications on stdout. */
export const ConsoleOptions = Type.Object(
  {
    format: Type.Union([Type.Literal('text'), Type.Literal('json')], {
      default: 'text',
      description: 'text: the title, then the body indented by two spaces; json: one JSON object per notification on one line.',
    }),
  },
  { additionalProperties: false },
);
