/**
 * Models' vocabularies (token id → bytes, registered once per model) and what reads them as text:
 * stop strings now, the grammar engine and the inspector's words later.
 */
package dev.tally.core.vocab;
