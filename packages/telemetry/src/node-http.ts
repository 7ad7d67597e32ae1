import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';

// node:http and node:https, loaded as CommonJS. An ESM `import` of node:http reads every export
// to build the module namespace, including the lazy WebSocket, CloseEvent and MessageEvent
// getters, and so loads Node's bundled undici (https://github.com/nodejs/node/issues/59686):
// measured here, about 2.5 MB of heap and 14 MB resident in every process, for classes no
// service uses. `require` leaves the getters alone. Types still come from `import type`.
const require = createRequire(import.meta.url);

export const http: typeof Http = require('node:http');
export const https: typeof Https = require('node:https');
