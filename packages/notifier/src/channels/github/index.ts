/** Channel "github": one GitHub issue per alert fingerprint (see github.ts). */
export { githubChannel, trackFromGithub, chooseIssue, type GithubChannel, type GithubChannelOptions, type TrackedIssue } from './github.js';
export { GithubChannelSchema, githubChannelConfig, type GithubChannelConfig } from './config.js';
export { decideIssueAction, type IssueAction, type IssueFacts, type DecisionInput, type Decision } from './decision.js';
export { githubError, GithubApi, type GithubIssue, type GithubComment } from './api.js';
export {
  GITHUB_TITLE,
  GITHUB_BODY,
  compileIssueTemplates,
  renderIssue,
  issueView,
  issueLabels,
  fingerprintLabel,
  type IssueView,
  type IssueContent,
  type IssueTemplates,
} from './templates.js';
