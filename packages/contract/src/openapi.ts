import { z } from 'zod';
import { problemSchema } from './problem.ts';

/**
 * OpenAPI 3.1 documents built from the zod schemas the services validate with, so a document
 * cannot drift from the code: a schema is converted with zod's own JSON Schema output (draft
 * 2020-12, the dialect of OpenAPI 3.1), and every schema with a registered `id` (`.meta({ id })`)
 * becomes one `#/components/schemas/<id>` that the others point to.
 */

/** The version of the published API documents: raise it with any change a client could notice. */
export const API_VERSION = '1.0.0';

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'head' | 'patch';

export interface HeaderSpec {
  description: string;
  schema: z.ZodType;
  required?: boolean;
}

export interface ResponseSpec {
  description: string;
  /** The body; `application/json`, or `contentType`. No schema: no body. */
  schema?: z.ZodType;
  contentType?: string;
  headers?: Record<string, HeaderSpec>;
}

export interface ParameterSpec {
  name: string;
  in: 'query' | 'path' | 'header';
  description: string;
  schema: z.ZodType;
  required?: boolean;
}

export interface OperationSpec {
  operationId: string;
  summary: string;
  description?: string;
  tags?: string[];
  parameters?: ParameterSpec[];
  /** A JSON request body. */
  requestBody?: { schema: z.ZodType; required?: boolean; description?: string };
  /** Names of security schemes of the document, all required. */
  security?: string[];
  responses: Record<string, ResponseSpec>;
}

export interface DocumentSpec {
  title: string;
  description: string;
  tags?: { name: string; description: string }[];
  securitySchemes?: Record<string, object>;
  paths: Record<string, Partial<Record<HttpMethod, OperationSpec>>>;
}

type Json = Record<string, unknown>;

const REF_PREFIX = '#/components/schemas/';

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [key, member] of Object.entries(value)) {
    out[key] =
      key === '$ref' && typeof member === 'string'
        ? member.replace('#/$defs/', REF_PREFIX)
        : rewriteRefs(member);
  }
  return out;
}

/** Converts zod schemas, collecting the named ones (`.meta({ id })`) as components. */
class SchemaSet {
  readonly components: Record<string, Json> = {};

  /** The JSON Schema of `schema`; a named one (and every named one inside) is a `$ref`. */
  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const {
      $schema: _,
      $defs,
      ...rest
    } = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io,
      unrepresentable: 'throw',
    }) as Json & { $defs?: Record<string, Json> };
    for (const [name, def] of Object.entries($defs ?? {})) this.#add(name, rewriteRefs(def) as Json);
    return rewriteRefs(rest) as Json;
  }

  #add(name: string, schema: Json): void {
    const known = this.components[name];
    if (known && JSON.stringify(known) !== JSON.stringify(schema))
      throw new Error(`two different schemas are named ${name} (an input and an output form?)`);
    this.components[name] = schema;
  }
}

/** The OpenAPI 3.1 document of `spec`, as plain JSON. */
export function openApiDocument(spec: DocumentSpec): Json {
  const schemas = new SchemaSet();
  const paths: Json = {};
  for (const [path, operations] of Object.entries(spec.paths)) {
    const item: Json = {};
    for (const [method, op] of Object.entries(operations) as [HttpMethod, OperationSpec][]) {
      const responses: Json = {};
      for (const [status, response] of Object.entries(op.responses)) {
        responses[status] = {
          description: response.description,
          ...(response.headers
            ? {
                headers: Object.fromEntries(
                  Object.entries(response.headers).map(([name, header]) => [
                    name,
                    {
                      description: header.description,
                      required: header.required ?? false,
                      schema: schemas.convert(header.schema, 'output'),
                    },
                  ]),
                ),
              }
            : {}),
          ...(response.schema
            ? {
                content: {
                  [response.contentType ?? 'application/json']: {
                    schema: schemas.convert(response.schema, 'output'),
                  },
                },
              }
            : {}),
        };
      }
      item[method] = {
        operationId: op.operationId,
        summary: op.summary,
        ...(op.description ? { description: op.description } : {}),
        ...(op.tags ? { tags: op.tags } : {}),
        ...(op.parameters
          ? {
              parameters: op.parameters.map((p) => ({
                name: p.name,
                in: p.in,
                description: p.description,
                required: p.in === 'path' ? true : (p.required ?? false),
                schema: schemas.convert(p.schema, 'input'),
              })),
            }
          : {}),
        ...(op.requestBody
          ? {
              requestBody: {
                required: op.requestBody.required ?? true,
                ...(op.requestBody.description ? { description: op.requestBody.description } : {}),
                content: { 'application/json': { schema: schemas.convert(op.requestBody.schema, 'input') } },
              },
            }
          : {}),
        ...(op.security ? { security: [Object.fromEntries(op.security.map((s) => [s, []]))] } : {}),
        responses,
      };
    }
    paths[path] = item;
  }
  return {
    openapi: '3.1.0',
    info: { title: spec.title, version: API_VERSION, description: spec.description },
    ...(spec.tags ? { tags: spec.tags } : {}),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas.components).sort(([a], [b]) => a.localeCompare(b))),
      ...(spec.securitySchemes ? { securitySchemes: spec.securitySchemes } : {}),
    },
  };
}

/** `X-Request-ID`, on every answer of every service. */
export const requestIdHeader: Record<string, HeaderSpec> = {
  'X-Request-ID': {
    description:
      'The request ID: the one sent when it matched `^[A-Za-z0-9._-]{1,128}$`, otherwise a new one. Finds the request in logs and traces.',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
    required: true,
  },
};

/** `Retry-After` in seconds. */
export const retryAfterHeader: Record<string, HeaderSpec> = {
  'Retry-After': {
    description: 'Seconds until asking again makes sense.',
    schema: z.string().regex(/^\d+$/),
    required: true,
  },
};

/** A problem+json answer with the request ID (and more headers when given). */
export function problemResponse(description: string, headers: Record<string, HeaderSpec> = {}): ResponseSpec {
  return {
    description,
    schema: problemSchema,
    contentType: 'application/problem+json',
    headers: { ...requestIdHeader, ...headers },
  };
}

/** A JSON answer with the request ID (and more headers when given). */
export function jsonResponse(
  description: string,
  schema: z.ZodType,
  headers: Record<string, HeaderSpec> = {},
): ResponseSpec {
  return { description, schema, headers: { ...requestIdHeader, ...headers } };
}
