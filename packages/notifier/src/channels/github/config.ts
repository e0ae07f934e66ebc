import { Type, type StaticDecode } from '@sinclair/typebox';
import { checkSection, ConfigError, Duration } from '@vigil/platform';

/**
 * Options of the "github" channel: one GitHub issue per alert fingerprint, in one repository.
 * Checked with `checkSection`, so problems name the key like the rest of the config file.
 */
export const GithubChannelSchema = Type.Object(
  {
    repo: Type.String({
      pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$',
      description: 'The repository that receives the issues, as owner/name (e.g. acme/ops-alerts).',
    }),
    token: Type.String({
      default: '${GITHUB_TOKEN}',
      description:
        'A token allowed to write issues and labels in the repository (fine-grained: Issues read and write; classic: repo). From the environment only: ${GITHUB_TOKEN} by default.',
    }),
    apiUrl: Type.String({
      default: 'https://api.github.com',
      pattern: '^https?://',
      description: 'The REST API root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server.',
    }),
    labels: Type.Array(Type.String({ minLength: 1, maxLength: 50 }), {
      default: [],
      description: 'Extra labels on every issue, besides severity:, category:, host:, container: and vigil:<fingerprint>.',
    }),
    commentInterval: Duration({
      default: '1h',
      description: 'While an issue is open, at most one "fired again" comment per interval; occurrences in between are counted into the next one.',
    }),
    closeOnResolve: Type.Boolean({ default: true, description: 'Close the issue (as completed) when its alert resolves; otherwise only comment.' }),
    reopenOnRegression: Type.Boolean({
      default: true,
      description: 'Reopen the closed issue when its alert fires again; otherwise leave it closed and only comment.',
    }),
    titleTemplate: Type.Optional(Type.String({ description: 'Handlebars template of the issue title (default: GITHUB_TITLE in channels/github/templates.ts).' })),
    bodyTemplate: Type.Optional(Type.String({ description: 'Handlebars template of the issue body, in Markdown (default: GITHUB_BODY in channels/github/templates.ts).' })),
    timeout: Duration({ default: '10s', description: 'Per-request timeout of GitHub API calls.' }),
  },
  { additionalProperties: false },
);

export type GithubChannelConfig = StaticDecode<typeof GithubChannelSchema>;

const ENV_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * The token of checked options: the file loader substitutes `${VAR}` in what the user wrote, but
 * a default is filled after that, so a token still reading `${NAME}` is looked up here.
 */
export function resolveGithubToken(config: GithubChannelConfig, at: string, env: NodeJS.ProcessEnv = process.env): GithubChannelConfig {
  const ref = ENV_REF.exec(config.token);
  if (ref) config.token = env[ref[1]!] ?? '';
  if (config.token === '') {
    const name = ref?.[1] ?? 'GITHUB_TOKEN';
    throw new ConfigError([`${at}.token: no GitHub token (set the environment variable ${name}, or write token: \${OTHER_VARIABLE})`]);
  }
  return config;
}

/** Checks the options at `at` (e.g. `notifier.yaml: notifier.receivers[1].github[0]`) and resolves the token. */
export function githubChannelConfig(value: unknown, at: string, env: NodeJS.ProcessEnv = process.env): GithubChannelConfig {
  return resolveGithubToken(checkSection(GithubChannelSchema, value, at), at, env);
}
