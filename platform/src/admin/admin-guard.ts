import type { FastifyRequest } from 'fastify';
import type { Config } from '#platform/config/load-config.ts';
import { AppError } from '#platform/core/errors.ts';

/**
 * Who may use the operator pages. Until accounts and roles exist they are open in development and
 * test only; in production they answer 404, so nothing operational is exposed unauthenticated.
 */
export function adminGuard(config: Config) {
  return async (_request: FastifyRequest): Promise<void> => {
    if (config.isProduction) throw new AppError('not_found', 'http.not_found', 'Not found');
  };
}
