import { Ajv2020 } from 'ajv/dist/2020.js';

type Json = Record<string, unknown>;

export interface RealResponse {
  status: number;
  headers: Headers;
  /** The body as text ('' when none). */
  body: string;
}

/**
 * Checks real answers against an OpenAPI 3.1 document: the status is documented for the
 * operation, the content type and body match its schema, and every required header is there and
 * matches its schema. Returns what is wrong, as lines (none: the answer conforms).
 */
export function openApiChecker(
  document: Json,
): (path: string, method: string, res: RealResponse) => string[] {
  // Formats are not checked: zod writes a `pattern` beside each `format` it emits (date-time, ipv4…).
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  // The document as one schema, so `#/components/schemas/...` resolves inside it.
  ajv.addSchema({ ...document, $id: 'openapi' });
  const paths = document.paths as Record<string, Record<string, Json>>;
  const check = (pointer: string, value: unknown, what: string): string[] => {
    const validate = ajv.getSchema(`openapi#${pointer}`);
    if (!validate) return [`no schema at ${pointer}`];
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${what}${e.instancePath} ${e.message}`);
  };
  const pointer = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');
  return (path, method, res) => {
    const operation = paths[path]?.[method.toLowerCase()];
    if (!operation) return [`${method} ${path} is not in the document`];
    const responses = operation.responses as Record<string, Json>;
    const key = String(res.status) in responses ? String(res.status) : 'default';
    const response = responses[key];
    if (!response) return [`${method} ${path}: status ${res.status} is not documented`];
    const base = `/paths/${pointer(path)}/${method.toLowerCase()}/responses/${key}`;
    const problems: string[] = [];
    for (const [name, header] of Object.entries((response.headers ?? {}) as Record<string, Json>)) {
      const value = res.headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`header ${name} is missing`);
        continue;
      }
      problems.push(...check(`${base}/headers/${pointer(name)}/schema`, value, `header ${name}`));
    }
    const content = response.content as Record<string, Json> | undefined;
    if (!content) {
      if (res.body !== '') problems.push(`status ${res.status} has no documented body but one came`);
      return problems;
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    if (!(type in content))
      return [...problems, `content type ${type} is not documented (${Object.keys(content)})`];
    let body: unknown = res.body;
    if (type.endsWith('json')) {
      try {
        body = JSON.parse(res.body);
      } catch {
        return [...problems, 'the body is not JSON'];
      }
    }
    problems.push(...check(`${base}/content/${pointer(type)}/schema`, body, 'body'));
    return problems;
  };
}
