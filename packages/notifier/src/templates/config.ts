import { Type, type Static } from '@sinclair/typebox';

/**
 * `notifier.templates`: where notification texts come from. Each channel has a default per part
 * (`title`, `text`, `html`); these replace them by name.
 */
export const TemplatesConfig = Type.Object(
  {
    dir: Type.Optional(
      Type.String({
        description:
          'A directory of handlebars files: `<channel>.<part>.hbs` (e.g. slack.text.hbs) or `<rule>.<channel>.<part>.hbs` replace a default; `<name>.partial.hbs` registers the partial {{> name}}. Relative to the working directory.',
      }),
    ),
    timeZone: Type.String({ default: 'UTC', description: 'IANA time zone in which {{time}} shows instants (e.g. Europe/Paris); {{time x tz="..."}} overrides it.' }),
    overrides: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.:-]+$' }), Type.String(), {
      default: {},
      description:
        'Templates by name: "<channel>.<part>" (slack.title), "<rule>.<channel>.<part>" (cpu_high.email.html) or "<part>" for every channel; they win over files in dir.',
    }),
  },
  { additionalProperties: false, default: {}, description: 'Handlebars templates of notifications, overriding the defaults per channel and per rule.' },
);

export type TemplatesConfig = Static<typeof TemplatesConfig>;
