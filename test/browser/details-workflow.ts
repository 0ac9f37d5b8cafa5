// A workflow for the browser test only: it shows workflows/details.ts's text as its current details and stays
// open until signalled, because the Web UI asks the running worker for current details.
import { condition, defineSignal, setCurrentDetails, setHandler } from '@temporalio/workflow';
import { formatDetails, type DetailsInput } from '../../workflows/details.ts';

export const finishSignal = defineSignal('finish');

export async function detailsWorkflow(input: DetailsInput): Promise<void> {
  let finished = false;
  setHandler(finishSignal, () => void (finished = true));
  setCurrentDetails(formatDetails(input));
  await condition(() => finished);
}
