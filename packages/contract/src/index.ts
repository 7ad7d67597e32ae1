export {
  type Catalog,
  crsCodeSchema,
  defaultRouteSchema,
  type Route,
  routeSchema,
  routesAnswerSchema,
  type Station,
  stationSchema,
  stationsAnswerSchema,
} from './catalog.ts';
export {
  type BoardUnavailableProblem,
  boardUnavailableProblemSchema,
  type DeparturesAnswer,
  departuresAnswerSchema,
  GATEWAY_STALE_REASONS,
  type GatewayDeparturesAnswer,
  gatewayDeparturesAnswerSchema,
  STALE_REASONS,
  type StaleReason,
  type StationBoard,
  stationBoardSchema,
  type TrainService,
  trainServiceSchema,
} from './departures.ts';
export { type Problem, problemSchema } from './problem.ts';
export {
  crsParamSchema,
  crsValue,
  distinctStations,
  MAX_ROWS,
  QueryError,
  type RawQuery,
  rowsParamSchema,
  rowsValue,
  singleValue,
} from './query.ts';
