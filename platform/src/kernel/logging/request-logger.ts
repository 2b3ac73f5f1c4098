import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

const real = Symbol('real logger');
const bindingsOf = Symbol('bindings');
const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

interface LazyChild {
  [real]?: Logger;
  [bindingsOf]: Bindings;
}

/** One prototype per parent logger: the level methods, made once, not per request. */
const prototypes = new WeakMap<Logger, object>();

function prototypeFor(parent: Logger): object {
  let prototype = prototypes.get(parent);
  if (prototype !== undefined) return prototype;
  const materialize = (lazy: LazyChild): Logger => (lazy[real] ??= parent.child(lazy[bindingsOf]));
  // Everything not defined here (level, levels, isLevelEnabled, flush…) reads through to the parent.
  const methods: Record<string, unknown> = {
    child(this: LazyChild, bindings: Bindings, options?: ChildLoggerOptions) {
      return materialize(this).child(bindings, options);
    },
    bindings(this: LazyChild) {
      return materialize(this).bindings();
    },
  };
  for (const level of levels) {
    methods[level] = function log(this: LazyChild, ...args: Parameters<Logger['info']>) {
      if (!parent.isLevelEnabled(level)) return;
      materialize(this)[level](...args);
    };
  }
  prototype = Object.assign(Object.create(parent) as object, methods);
  prototypes.set(parent, prototype);
  return prototype;
}

/**
 * Fastify's `childLoggerFactory`: each request's logger is a child of the server's with the
 * request id bound, but it is made (pino's `child`, about a microsecond) only when the request
 * logs something at an enabled level. Most requests log nothing but their access line, which is
 * written through the server's logger with the id as a field (`AccessLine`). A route with its own
 * log level or serializers gets a real child at once.
 */
export function lazyRequestLogger(parent: Logger, bindings: Bindings, options: ChildLoggerOptions): Logger {
  if (options.level !== undefined || options.serializers !== undefined) return parent.child(bindings, options);
  const lazy = Object.create(prototypeFor(parent)) as LazyChild;
  lazy[bindingsOf] = bindings;
  return lazy as unknown as Logger;
}
