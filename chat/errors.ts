// One error type for the chat layer, carrying where the problem is (file, field, message index) so callers
// and users can find the offending input without a stack trace.

export interface ChatErrorWhere {
  file?: string;
  field?: string;
  messageIndex?: number;
}

export class ChatProtocolError extends Error {
  readonly where: ChatErrorWhere;
  constructor(message: string, where: ChatErrorWhere = {}) {
    const parts = [
      where.file ? `file ${where.file}` : '',
      where.field ? `field ${where.field}` : '',
      where.messageIndex !== undefined ? `message ${where.messageIndex}` : '',
    ].filter(Boolean);
    super(parts.length ? `${parts.join(', ')}: ${message}` : message);
    this.name = 'ChatProtocolError';
    this.where = where;
  }
}
