export { FaultProxy, type Faults } from './fault-proxy';
