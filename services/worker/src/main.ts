import { runService } from '@notofine/lifecycle';
import { start } from './worker-service';

runService('worker', () => start());
