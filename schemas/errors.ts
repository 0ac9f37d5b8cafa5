// Error names that describe the input, not the machine: a step that fails with one of them would fail the same way
// again, so it is never retried (workflows list them as non-retryable; activities map them to non-retryable
// failures). One list for every stage.
export const NON_RETRYABLE_ERRORS = ['BadInputError', 'ShortfallError', 'RecipeError'] as const;
export type NonRetryableError = (typeof NON_RETRYABLE_ERRORS)[number];
