import { GROUP_TEXT, GROUP_TITLE } from '../../templates/defaults.js';

/**
 * Default templates of the email channel. The HTML part is MISSION B's health report: a banner
 * coloured by level with the overall state (healthy, degraded, unhealthy), a summary line, a
 * table of the alerts with a colour bar per row, details, and a link back to Vigil. Inline styles
 * and layout tables, because mail clients drop <style> and flexbox.
 */
export const EMAIL_HTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{{name}}</title></head>
<body style="margin:0;padding:0;background:#f4f5f7;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7"><tr><td align="center" style="padding:24px 12px">
<table role="presentation" width="680" cellpadding="0" cellspacing="0" style="max-width:680px;background:#ffffff;border:1px solid #d0d7de;border-radius:6px">
<tr><td style="background:{{severityColour severity status}};color:#ffffff;padding:16px 24px;border-radius:6px 6px 0 0">
<div style="font-size:12px;letter-spacing:1px;text-transform:uppercase">Vigil health report &middot; {{#if firing}}{{#if (eq severity "critical")}}unhealthy{{else}}degraded{{/if}}{{else}}healthy{{/if}}</div>
<div style="font-size:20px;font-weight:bold;margin-top:4px">{{severityEmoji severity status}} {{#if firing}}{{upper severity}}{{else}}RESOLVED{{/if}}: {{name}}{{onTarget}}</div>
</td></tr>
<tr><td style="padding:16px 24px 8px;font-size:14px">
<strong>{{firingCount}}</strong> firing, <strong>{{resolvedCount}}</strong> resolved{{#if category}} &middot; category <strong>{{category}}</strong>{{/if}} &middot; {{time createdAt}}
</td></tr>
<tr><td style="padding:8px 24px 16px">
<table width="100%" cellpadding="6" cellspacing="0" style="border-collapse:collapse;font-size:13px">
<tr style="background:#f6f8fa;text-align:left"><th style="border-bottom:1px solid #d0d7de">Level</th><th style="border-bottom:1px solid #d0d7de">Alert</th><th style="border-bottom:1px solid #d0d7de">Target</th><th style="border-bottom:1px solid #d0d7de">Value</th><th style="border-bottom:1px solid #d0d7de">Started</th><th style="border-bottom:1px solid #d0d7de">State</th></tr>
{{#each alerts}}<tr>
<td style="border-left:4px solid {{severityColour severity status}};border-bottom:1px solid #eaeef2"><span style="color:{{severityColour severity}};font-weight:bold">{{upper severity}}</span></td>
<td style="border-bottom:1px solid #eaeef2">{{name}}{{#if annotations.summary}}<br><span style="color:#57606a">{{annotations.summary}}</span>{{/if}}</td>
<td style="border-bottom:1px solid #eaeef2">{{target}}</td>
<td style="border-bottom:1px solid #eaeef2">{{#if fraction}}{{percent value}}{{else}}{{number value}}{{/if}}{{#if window}} <span style="color:#57606a">({{duration window}})</span>{{/if}}</td>
<td style="border-bottom:1px solid #eaeef2">{{time startsAt}}</td>
<td style="border-bottom:1px solid #eaeef2">{{#if resolved}}<span style="color:{{severityColour severity status}}">resolved</span> {{time endsAt}} (lasted {{duration startsAt endsAt}}){{else}}<strong>firing</strong>{{/if}}</td>
</tr>
{{/each}}</table>
</td></tr>
{{#each alerts}}{{#if annotations.description}}<tr><td style="padding:0 24px 12px;font-size:13px"><strong>{{name}}{{onTarget}}</strong>: {{annotations.description}}</td></tr>
{{/if}}{{/each}}{{#if heldBack}}<tr><td style="padding:0 24px 12px;font-size:13px;color:#57606a">{{heldBack.count}} earlier notification(s) held back by the rate limit since {{time heldBack.since}}: {{heldBack.firing}} firing, {{heldBack.resolved}} resolved.</td></tr>
{{/if}}<tr><td style="padding:12px 24px 20px;font-size:12px;color:#57606a;border-top:1px solid #eaeef2">
Sent by Vigil to {{receiver}}{{#if externalUrl}} &middot; <a href="{{externalUrl}}" style="color:#0969da">open Vigil</a>{{/if}}
</td></tr>
</table>
</td></tr></table>
</body></html>
`;

export const EMAIL_TEMPLATES: Record<string, string> = {
  'email.title': GROUP_TITLE,
  'email.text': GROUP_TEXT,
  'email.html': EMAIL_HTML,
};
