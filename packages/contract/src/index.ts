export {
  type BoardUnavailableProblem,
  boardUnavailableProblemSchema,
  type DeparturesAnswer,
  departuresAnswerSchema,
  STALE_REASONS,
  type StaleReason,
  type StationBoard,
  stationBoardSchema,
  type TrainService,
  trainServiceSchema,
} from './departures.ts';
