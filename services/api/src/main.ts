import { runService } from '@notofine/lifecycle';
import { start } from './api-service';

runService('api', () => start());
