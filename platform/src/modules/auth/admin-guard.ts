import type { FastifyRequest } from 'fastify';
import type { Config } from '#platform/kernel/config/load-config.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { PLATFORM_ADMIN } from './access.ts';

/**
 * Who may use the operator pages: platform admins, and in development and test anyone on the
 * developer's machine. In production everyone else gets a 404, so nothing operational is exposed.
 */
export function adminGuard(config: Config) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.user?.roles.includes(PLATFORM_ADMIN) === true) return;
    if (config.isProduction) throw new AppError('not_found', 'http.not_found', 'Not found');
  };
}
