/**
 * Structured output: constraints over the output's bytes (a regular expression; a choice is one
 * spelled as alternatives), compiled to byte automata over the request's vocabulary and applied as
 * a stateful processor that masks every token the constraint does not allow.
 */
package dev.tally.structured;
