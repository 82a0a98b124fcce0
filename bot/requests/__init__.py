"""A clone request from submission to result: the lifecycle (states and allowed edges), the
record, the approval policy, decisions, execution against ZStack, job tracking and the requester's
ZStack session."""
