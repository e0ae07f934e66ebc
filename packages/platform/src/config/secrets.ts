/**
 * Literal secrets in a config file, found before `${VAR}` substitution: in a key that names a
 * secret (password, token, ...), in a header that carries a credential (Authorization: Bearer ...),
 * and in the password of a URL (https://user:pass@host). A `${VAR:-default}` default is text in
 * the file too, so a default in such a place is refused as well. Pure; messages never show the
 * secret, only its place (`"Bearer ***"`).
 */

/** Keys whose whole value is a secret. */
export const SECRET_KEY = /(password|token|secret|api[_-]?key|auth)$/i;
export const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Header names whose value is a credential. */
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie)$|auth|token|secret|api[-_]?key|password|session|signature|credential/i;
/** A credential scheme in front of a header value: the part after it is the secret. */
const SCHEME = /^(bearer|basic|token|digest|apikey|api-key|key|splunk|geniekey|sso-key)(\s+)/i;
/** scheme://userinfo@ anywhere in a string. */
const URL_USERINFO = /[A-Za-z][A-Za-z0-9+.-]*:\/\/([^\s/?#@]*)@/;

/** Stands for one `${VAR}` without a default while the text is checked. */
const REF = '\uE000';

interface Masked {
  /** The text with each `${VAR}` as REF and each `${VAR:-default}` as its default. */
  text: string;
  /** Names of the REF characters, in order. */
  names: string[];
  /** Some `${VAR:-default}` has a non-empty default. */
  defaults: boolean;
}

function mask(raw: string): Masked {
  const names: string[] = [];
  let defaults = false;
  const text = raw.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
    if (fallback === undefined) {
      names.push(name);
      return REF;
    }
    if (fallback !== '') defaults = true;
    return fallback;
  });
  return { text, names, defaults };
}

const literal = (text: string): boolean => text.replaceAll(REF, '').trim() !== '';

/** The masked text with [start, end) shown as *** and every other reference as `${NAME}`. */
function redact(m: Masked, start: number, end: number): string {
  let out = '';
  let k = 0;
  for (let i = 0; i < m.text.length; i++) {
    const c = m.text[i]!;
    if (i === start) out += '***';
    if (i >= start && i < end) {
      if (c === REF) k++;
      continue;
    }
    out += c === REF ? `\${${m.names[k++]}}` : c;
  }
  if (start >= m.text.length) out += '***';
  return out;
}

/** `authToken` → `AUTH_TOKEN`, the variable name suggested for a key. */
export function envName(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase() || 'SECRET';
}

/**
 * Why `raw`, the value at `path` as written in the file, holds a literal secret; undefined when it
 * does not. The text follows the key in a message: `<file>: <key>: <this>`.
 */
export function literalSecretProblem(path: readonly (string | number)[], raw: string): string | undefined {
  const key = path[path.length - 1];
  const parent = path[path.length - 2];
  const m = mask(raw);
  const fromDefault = m.defaults ? ' (a ${VAR:-default} default is written in the file too)' : '';
  if (typeof key === 'string' && parent === 'headers') {
    const scheme = SCHEME.exec(m.text);
    const start = scheme ? scheme[0].length : 0;
    if ((SECRET_HEADER.test(key) || scheme) && literal(m.text.slice(start))) {
      const name = envName(key);
      return `header value "${redact(m, start, m.text.length)}" carries a credential written in the file; secrets must come from the environment${fromDefault} (write "${scheme ? scheme[0] : ''}\${${name}}" and set ${name})`;
    }
  }
  if (typeof key === 'string' && SECRET_KEY.test(key) && literal(m.text)) {
    return `secrets must come from the environment, not the file: "${redact(m, 0, m.text.length)}" is written there${fromDefault} (write \${${envName(key)}} without a default and set that variable)`;
  }
  const url = URL_USERINFO.exec(m.text);
  if (url) {
    const userinfo = url[1]!;
    const colon = userinfo.indexOf(':');
    if (colon >= 0 && literal(userinfo.slice(colon + 1))) {
      const start = url.index + url[0].length - 1 - userinfo.length + colon + 1;
      const end = url.index + url[0].length - 1;
      return `"${redact(m, start, end)}" has a password written in the URL; secrets must come from the environment${fromDefault} (write the password as \${PASSWORD_VARIABLE} and set that variable, or move the whole URL to one)`;
    }
  }
  return undefined;
}
