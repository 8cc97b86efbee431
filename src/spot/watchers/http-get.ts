// One HTTP exchange with a metadata service: node:http, no keep-alive (each poll is
// its own connection, so nothing lingers after stop), a hard timeout through an
// AbortController, and a cap on the body so a garbage reply cannot eat memory.
import http from 'node:http';
import https from 'node:https';

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'PUT' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Aborts the request early (the watcher's stop). */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const MAX_BODY = 1 << 20;

/** Rejects with a one-line Error on timeout, abort, refusal or an oversized body. */
export function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!mod) return Promise.reject(new Error(`unsupported metadata URL scheme ${url.protocol}`));
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), req.timeoutMs);
  const onOuterAbort = () => timer.abort();
  req.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const headers: Record<string, string> = { ...req.headers };
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  return new Promise<HttpResponse>((resolve, reject) => {
    const r = mod.request(url, { method: req.method ?? 'GET', headers, agent: false, signal: timer.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) { res.destroy(new Error(`reply body over ${MAX_BODY} bytes`)); return; }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', (err: NodeJS.ErrnoException) => {
      if (req.signal?.aborted) reject(new Error('stopped'));
      else if (timer.signal.aborted) reject(new Error(`no reply within ${req.timeoutMs} ms`));
      else reject(new Error(err.code ? `${err.code} ${err.message}` : err.message));
    });
    r.end(req.body);
  }).finally(() => {
    clearTimeout(timeout);
    req.signal?.removeEventListener('abort', onOuterAbort);
  });
}
