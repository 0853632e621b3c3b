package dev.tally.server.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongToIntFunction;

/**
 * The small, real language model behind {@code tally demo}: a word-level interpolated trigram
 * model trained at start-up on a bundled public-domain text, so the demo needs no download and no
 * weights file, and training takes milliseconds.
 *
 * <p>Smoothing is interpolated Witten–Bell: {@code P(w|h) = (c(h,w) + T(h)·P(w|h')) / (c(h) + T(h))},
 * where {@code c(h)} counts the tokens seen after context {@code h}, {@code T(h)} how many distinct
 * ones, and {@code h'} is {@code h} without its oldest token. Why Witten–Bell: it has no parameter
 * to tune (Kneser–Ney needs discounts, Jelinek–Mercer fixed lambdas that fit no corpus well); it
 * trusts a context in proportion to how predictable it has been (after "Caius" nearly always
 * "Marcius", after "the" anything); and it is simple enough to check by hand in a test. The
 * unigram level is interpolated the same way with the uniform distribution, so every token has a
 * strictly positive probability in every context. A context never seen falls back to the shorter
 * one entirely.
 *
 * <p>Tokens are words (keeping case, inner apostrophes and hyphens, and elisions such as
 * {@code 'tis} or {@code o'}), single punctuation marks, dash runs such as {@code --}, and
 * {@code \n}, which stands only for a paragraph end (a speaker change in a play) and for the line
 * break after a speaker heading; other line breaks are plain spaces, so generated verse reads as
 * prose under its speaker. Id 0 is {@code </s>}: it ends the training text and also pads its start,
 * so an empty history means "start of text".
 *
 * <p>Instances are immutable, so one model can serve concurrent decoders.
 */
final class NgramModel {

    static final String EOS = "</s>";
    static final String NEWLINE = "\n";

    private static final int EOS_ID = 0;
    /** Token ids are packed three to a long key, so the vocabulary must fit in 21 bits. */
    private static final int ID_BITS = 21;
    private static final long ID_MASK = (1L << ID_BITS) - 1;
    private static final int MAX_HEADING_LENGTH = 40;
    private static final String ATTACH_LEFT = ",.;:!?')]}";
    private static final String ATTACH_RIGHT = "([{";

    private final String[] vocab;
    private final Map<String, Integer> ids;
    /** Lower-cased form to the first id with that form: the fallback for unknown words in encode. */
    private final Map<String, Integer> foldedIds;
    private final boolean[] attachLeft;
    private final boolean[] attachRight;

    /** P(w), already smoothed towards uniform. */
    private final double[] unigram;
    /** What followed each token; the context index is the token id. */
    private final Followers bigrams;
    /** Trigram context (u,v), packed, to its index in {@link #trigrams}. */
    private final LongIntMap trigramContexts;
    private final Followers trigrams;

    /** Trains on the public-domain text bundled next to this class. */
    static NgramModel bundled() {
        try (InputStream in = NgramModel.class.getResourceAsStream("corpus.txt")) {
            if (in == null) {
                throw new IllegalStateException("demo corpus.txt is missing from the classpath");
            }
            return train(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read demo corpus.txt", e);
        }
    }

    static NgramModel train(String text) {
        return new NgramModel(tokenize(Objects.requireNonNull(text, "text")));
    }

    private NgramModel(List<String> tokens) {
        List<String> names = new ArrayList<>();
        ids = new HashMap<>();
        names.add(EOS);
        ids.put(EOS, EOS_ID);
        // EOS on both sides: the left pad gives the first words a context, the right one ends the text.
        int[] stream = new int[tokens.size() + 2];
        for (int i = 0; i < tokens.size(); i++) {
            stream[i + 1] = ids.computeIfAbsent(tokens.get(i), t -> {
                names.add(t);
                return names.size() - 1;
            });
        }
        if (names.size() > ID_MASK) {
            throw new IllegalArgumentException("vocabulary exceeds " + ID_MASK + " tokens");
        }
        vocab = names.toArray(new String[0]);
        foldedIds = new HashMap<>();
        for (int id = 0; id < vocab.length; id++) {
            foldedIds.putIfAbsent(vocab[id].toLowerCase(Locale.ROOT), id);
        }
        attachLeft = new boolean[vocab.length];
        attachRight = new boolean[vocab.length];
        for (int id = 0; id < vocab.length; id++) {
            attachLeft[id] = attachesLeft(vocab[id]);
            attachRight[id] = attachesRight(vocab[id]);
        }
        attachRight[EOS_ID] = true; // what follows an end of text starts a fresh one

        unigram = unigramProbabilities(stream, vocab.length);

        bigrams = followers(countNgrams(stream, 2), vocab.length, context -> (int) context);
        Counted trigramCounts = countNgrams(stream, 3);
        trigramContexts = numberContexts(trigramCounts.keys());
        trigrams = followers(trigramCounts, trigramContexts.size(), trigramContexts::get);
    }

    int vocabSize() {
        return vocab.length;
    }

    int eosId() {
        return EOS_ID;
    }

    String token(int id) {
        return vocab[Objects.checkIndex(id, vocab.length)];
    }

    /**
     * The token as running text shows it, for a Tally vocabulary: a leading space unless it attaches
     * to the word before, nothing for {@code </s>}. Only after a newline, dash or bracket does
     * {@link #detokenize} differ (it leaves the space out there).
     */
    byte[] tokenBytes(int id) {
        String t = token(id);
        if (id == EOS_ID) {
            return t.getBytes(java.nio.charset.StandardCharsets.UTF_8); // special: never text
        }
        return (attachLeft[id] ? t : " " + t).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * Tokens of {@code text}. A word not in the vocabulary maps to the first vocabulary word equal to
     * it ignoring case ("KING" becomes "king"); failing that it is skipped, because a demo prompt
     * should still run with whatever the model knows.
     */
    int[] encode(String text) {
        List<String> tokens = tokenize(Objects.requireNonNull(text, "text"));
        int[] out = new int[tokens.size()];
        int n = 0;
        for (String token : tokens) {
            Integer id = ids.get(token);
            if (id == null) {
                id = foldedIds.get(token.toLowerCase(Locale.ROOT));
            }
            if (id != null) {
                out[n++] = id;
            }
        }
        return Arrays.copyOf(out, n);
    }

    /**
     * Writes into {@code out[0..vocabSize)} the natural-log probability of each next token given the
     * last two of the first {@code length} tokens of {@code history}. A history shorter than two is
     * padded on the left with {@code </s>}, as the training text was. Allocates nothing.
     */
    void logits(int[] history, int length, float[] out) {
        Objects.checkFromToIndex(0, length, history.length);
        if (out.length < vocab.length) {
            throw new IllegalArgumentException("out holds " + out.length + " < " + vocab.length);
        }
        int v = length >= 1 ? checkId(history[length - 1]) : EOS_ID;
        int u = length >= 2 ? checkId(history[length - 2]) : EOS_ID;
        int ctx = length >= 1 ? trigramContexts.get(pack(u, v)) : -1;

        // Mass each level hands down to the shorter context: T/(c+T), or all of it when unseen.
        double triKeep = ctx < 0 ? 1 : trigrams.backoff(ctx);
        double biKeep = bigrams.backoff(v);
        double scale = triKeep * biKeep;
        for (int w = 0; w < vocab.length; w++) {
            out[w] = (float) (scale * unigram[w]);
        }
        bigrams.addObserved(v, triKeep, out);
        if (ctx >= 0) {
            trigrams.addObserved(ctx, 1, out);
        }
        for (int w = 0; w < vocab.length; w++) {
            out[w] = (float) Math.log(out[w]);
        }
    }

    /**
     * Joins {@code ids[from..to)} into text: no space before closing punctuation, none around dashes
     * or after a newline, and {@code </s>} rendered as nothing. The token before {@code from} decides
     * the leading space, so text streamed piece by piece equals the text detokenized at once.
     */
    String detokenize(int[] ids, int from, int to) {
        Objects.checkFromToIndex(from, to, ids.length);
        StringBuilder text = new StringBuilder();
        int previous = from > 0 ? checkId(ids[from - 1]) : EOS_ID;
        for (int i = from; i < to; i++) {
            int id = checkId(ids[i]);
            if (id != EOS_ID) {
                if (!attachRight[previous] && !attachLeft[id]) {
                    text.append(' ');
                }
                text.append(vocab[id]);
            }
            previous = id;
        }
        return text.toString();
    }

    // ---- training ----

    private static double[] unigramProbabilities(int[] stream, int vocabSize) {
        int[] counts = new int[vocabSize];
        for (int i = 1; i < stream.length; i++) {
            counts[stream[i]]++;
        }
        int types = 0;
        for (int c : counts) {
            types += c > 0 ? 1 : 0;
        }
        double total = stream.length - 1;
        double uniform = 1.0 / vocabSize;
        double[] p = new double[vocabSize];
        for (int w = 0; w < vocabSize; w++) {
            p[w] = (counts[w] + types * uniform) / (total + types);
        }
        return p;
    }

    /** Distinct n-grams, packed {@link #ID_BITS} bits per id and sorted, with their counts. */
    private record Counted(long[] keys, int[] counts) {
        int size() {
            return keys.length;
        }
    }

    /** The n-grams (n = 2 or 3) of the stream; sorting makes the model's layout deterministic. */
    private static Counted countNgrams(int[] stream, int n) {
        long[] all = new long[Math.max(0, stream.length - n + 1)];
        for (int i = 0; i < all.length; i++) {
            long key = stream[i];
            for (int j = 1; j < n; j++) {
                key = (key << ID_BITS) | stream[i + j];
            }
            all[i] = key;
        }
        Arrays.sort(all);
        long[] keys = new long[all.length];
        int[] counts = new int[all.length];
        int distinct = 0;
        for (int i = 0; i < all.length; ) {
            int j = i;
            while (j < all.length && all[j] == all[i]) {
                j++;
            }
            keys[distinct] = all[i];
            counts[distinct++] = j - i;
            i = j;
        }
        return new Counted(Arrays.copyOf(keys, distinct), Arrays.copyOf(counts, distinct));
    }

    /** Numbers the distinct contexts of sorted n-gram keys in order, so followers stay grouped. */
    private static LongIntMap numberContexts(long[] sortedKeys) {
        int distinct = 0;
        for (int i = 0; i < sortedKeys.length; i++) {
            if (i == 0 || sortedKeys[i] >>> ID_BITS != sortedKeys[i - 1] >>> ID_BITS) {
                distinct++;
            }
        }
        LongIntMap numbers = new LongIntMap(distinct);
        for (long key : sortedKeys) {
            long context = key >>> ID_BITS;
            if (numbers.get(context) < 0) {
                numbers.put(context, numbers.size());
            }
        }
        return numbers;
    }

    /** Groups sorted n-grams by context; {@code contextIndex} must number contexts in sorted order. */
    private static Followers followers(Counted ngrams, int contexts, LongToIntFunction contextIndex) {
        int[] start = new int[contexts + 1];
        int[] next = new int[ngrams.size()];
        int[] total = new int[contexts];
        for (int i = 0; i < ngrams.size(); i++) {
            long key = ngrams.keys()[i];
            int context = contextIndex.applyAsInt(key >>> ID_BITS);
            next[i] = (int) (key & ID_MASK);
            total[context] += ngrams.counts()[i];
            start[context + 1]++;
        }
        for (int c = 0; c < contexts; c++) {
            start[c + 1] += start[c];
        }
        return new Followers(start, next, ngrams.counts(), total);
    }

    /**
     * Tokens seen after each context, in compressed rows: context c's followers are
     * {@code next[i]} with {@code count[i]} for i in {@code [start[c], start[c+1])}, {@code total[c]}
     * tokens in all.
     */
    private record Followers(int[] start, int[] next, int[] count, int[] total) {

        /** Witten–Bell's share for the shorter context, T/(c+T); all of it for a context never seen. */
        double backoff(int context) {
            int types = start[context + 1] - start[context];
            return total[context] == 0 ? 1 : (double) types / (total[context] + types);
        }

        /** Adds {@code weight · c(h,w)/(c(h)+T(h))} for each token w seen after the context. */
        void addObserved(int context, double weight, float[] out) {
            double scale = weight / (total[context] + start[context + 1] - start[context]);
            for (int i = start[context]; i < start[context + 1]; i++) {
                out[next[i]] += (float) (scale * count[i]);
            }
        }
    }

    // ---- tokenizing ----

    private static List<String> tokenize(String text) {
        List<String> tokens = new ArrayList<>();
        boolean paragraphStart = true;
        int start = 0;
        while (start < text.length()) {
            int newline = text.indexOf('\n', start);
            int end = newline < 0 ? text.length() : newline;
            String line = text.substring(start, end).strip();
            start = end + 1;
            if (line.isEmpty()) {
                appendNewline(tokens);
                paragraphStart = true;
                continue;
            }
            splitLine(line, tokens);
            if (paragraphStart && newline >= 0 && isSpeakerHeading(line)) {
                appendNewline(tokens);
            }
            paragraphStart = false;
        }
        return tokens;
    }

    /** One newline token per break, however many blank lines make it up. */
    private static void appendNewline(List<String> tokens) {
        if (!tokens.isEmpty() && !tokens.get(tokens.size() - 1).equals(NEWLINE)) {
            tokens.add(NEWLINE);
        }
    }

    /** "MENENIUS:" or "First Citizen:" opening a paragraph. */
    private static boolean isSpeakerHeading(String line) {
        return line.length() <= MAX_HEADING_LENGTH
                && Character.isLetter(line.codePointAt(0))
                && line.indexOf(':') == line.length() - 1;
    }

    private static void splitLine(String line, List<String> tokens) {
        int i = 0;
        while (i < line.length()) {
            char c = line.charAt(i);
            int end;
            if (Character.isWhitespace(c)) {
                i++;
                continue;
            } else if (isWordChar(line, i)) {
                end = wordEnd(line, i);
            } else if (c == '\'' && i + 1 < line.length() && isWordChar(line, i + 1)) {
                end = wordEnd(line, i + 1); // elision such as 'tis, or an opening quote kept on its word
            } else if (c == '-') {
                end = i + 1;
                while (end < line.length() && line.charAt(end) == '-') {
                    end++;
                }
            } else {
                end = i + Character.charCount(line.codePointAt(i));
            }
            tokens.add(line.substring(i, end));
            i = end;
        }
    }

    private static int wordEnd(String line, int i) {
        int n = line.length();
        while (i < n) {
            char c = line.charAt(i);
            if (isWordChar(line, i)) {
                i += Character.charCount(line.codePointAt(i));
            } else if ((c == '\'' || c == '-') && i + 1 < n && isWordChar(line, i + 1)) {
                i++;
            } else {
                break;
            }
        }
        // An apostrophe before a space is an elision or plural possessive (o', Tullus'), not a quote.
        if (i < n && line.charAt(i) == '\'' && (i + 1 == n || Character.isWhitespace(line.charAt(i + 1)))) {
            i++;
        }
        return i;
    }

    private static boolean isWordChar(String s, int i) {
        return Character.isLetterOrDigit(s.codePointAt(i));
    }

    private static boolean attachesLeft(String token) {
        return token.equals(NEWLINE) || token.startsWith("-")
                || (token.length() == 1 && ATTACH_LEFT.indexOf(token.charAt(0)) >= 0);
    }

    private static boolean attachesRight(String token) {
        return token.equals(NEWLINE) || token.startsWith("-")
                || (token.length() == 1 && ATTACH_RIGHT.indexOf(token.charAt(0)) >= 0);
    }

    // ---- packing ----

    private static long pack(int u, int v) {
        return ((long) u << ID_BITS) | v;
    }

    private int checkId(int id) {
        return Objects.checkIndex(id, vocab.length);
    }

    /** Open-addressing long-to-int map without boxing; keys are non-negative, so -1 marks a free slot. */
    private static final class LongIntMap {
        private final long[] keys;
        private final int[] values;
        private final int mask;
        private int size;

        LongIntMap(int expected) {
            int capacity = 2;
            while (capacity < expected * 2) {
                capacity <<= 1;
            }
            keys = new long[capacity];
            values = new int[capacity];
            mask = capacity - 1;
            Arrays.fill(keys, -1);
        }

        void put(long key, int value) {
            int slot = slot(key);
            while (keys[slot] != -1 && keys[slot] != key) {
                slot = (slot + 1) & mask;
            }
            if (keys[slot] == -1) {
                size++;
            }
            keys[slot] = key;
            values[slot] = value;
        }

        int size() {
            return size;
        }

        int get(long key) {
            for (int slot = slot(key); keys[slot] != -1; slot = (slot + 1) & mask) {
                if (keys[slot] == key) {
                    return values[slot];
                }
            }
            return -1;
        }

        private int slot(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            return (int) (h ^ (h >>> 32)) & mask;
        }
    }
}
