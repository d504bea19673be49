/**
 * The show stage as the notebooks see it (`lib.show`): figures and tables in a notebook, and the
 * views of a bundle and of a training run. `saveFigure`, `closeFigures` and `showTable` are also
 * at the top of the façade (lib/mod.ts), since every notebook calls them.
 *
 * @module
 */
export {
  closeFigures,
  type FigureFiles,
  type FigureSize,
  type FigureSpec,
  figureTitle,
  type SavedFigure,
  saveFigure,
} from "./figures.ts";
export { showTable, type TableLike } from "./tables.ts";
export {
  bundleSummary,
  dataFigure,
  hitsTable,
  type SplitCosines,
  splitCosines,
  type SplitSummary,
} from "./data_view.ts";
export { type TrainingProgress, trainingProgress } from "./progress.ts";
export {
  gateLearningFigure,
  gateRouterFigure,
  readTrainLog,
  trainingCurvesFigure,
  trainingTable,
  type TrainLog,
} from "./training_view.ts";
