// Errors that describe the training input (a model directory, a recipe setting, a checkpoint that is not what it
// claims), not the machine. Their names are in schemas/errors.ts NON_RETRYABLE_ERRORS, so a stage fails at once
// instead of retrying work that would fail the same way.

/** A model directory, a data file or a setting that cannot be used as given. */
export class TrainingInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadInputError';
  }
}
