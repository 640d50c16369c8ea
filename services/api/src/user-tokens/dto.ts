import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** Minimum lifetime of a user token, in seconds. */
export const MIN_TOKEN_TTL_SECONDS = 60;

export class MintUserTokenBody {
  /** How long the token lasts, in seconds; the configured lifetime (USER_TOKEN_TTL_MS) by default and at most. */
  @IsOptional()
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(MIN_TOKEN_TTL_SECONDS, { message: `must be at least ${MIN_TOKEN_TTL_SECONDS}` })
  @Max(86_400, { message: 'must be at most 86400 (a day)' })
  ttl_seconds?: number;
}
