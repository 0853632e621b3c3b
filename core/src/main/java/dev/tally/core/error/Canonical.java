package dev.tally.core.error;

/**
 * The canonical status an error maps to. The names are gRPC's, so the server maps them one to one;
 * core itself knows nothing of gRPC.
 */
public enum Canonical {
  INVALID_ARGUMENT,
  NOT_FOUND,
  ALREADY_EXISTS,
  FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED,
  DEADLINE_EXCEEDED,
  UNAVAILABLE,
  DATA_LOSS,
  INTERNAL
}
