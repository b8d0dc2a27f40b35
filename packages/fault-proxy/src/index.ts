export { FaultProxy } from './fault-proxy';
