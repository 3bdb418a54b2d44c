export { valueAt } from '../../simulator/policy/plain';
