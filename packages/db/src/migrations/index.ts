import { InitialSchema1795470000000 } from './1795470000000-initial-schema';

/** Every migration, oldest first. A new migration is added here as well as in its own file. */
export const MIGRATIONS = [InitialSchema1795470000000];
