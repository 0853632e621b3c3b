package dev.tally.server.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class NgramModelTest {

    private static NgramModel model;

    @BeforeAll
    static void trainOnce() {
        model = NgramModel.bundled();
    }

    @Test
    void probabilitiesSumToOneAndAreFiniteInEveryKindOfContext() {
        int eos = model.eosId();
        List<int[]> histories = List.of(
                new int[0],                               // start of text
                model.encode("MENENIUS"),                 // one token: padded with </s>
                model.encode("hear me"),                  // seen trigram context
                model.encode("Rome Rome"),                // unseen pair: bigram fallback
                model.encode("MENENIUS:\n"),              // newline as context
                new int[] {model.encode("Rome")[0], eos}, // end of text as context
                model.encode("First Citizen: Before we proceed any further, hear me"));
        float[] out = new float[model.vocabSize()];
        for (int[] history : histories) {
            model.logits(history, history.length, out);
            double sum = 0;
            for (float logit : out) {
                assertTrue(Float.isFinite(logit), () -> "non-finite logit after " + Arrays.toString(history));
                assertTrue(logit < 0, "every token has probability below 1");
                sum += Math.exp(logit);
            }
            assertEquals(1.0, sum, 1e-4, "after " + Arrays.toString(history));
        }
    }

    @Test
    void onlyTheFirstLengthTokensOfTheHistoryCount() {
        int[] history = model.encode("hear me speak");
        float[] prefix = new float[model.vocabSize()];
        float[] whole = new float[model.vocabSize()];
        model.logits(history, 2, prefix);
        model.logits(Arrays.copyOf(history, 2), 2, whole);
        assertArrayEquals(whole, prefix);
    }

    @Test
    void encodeThenDetokenizeGivesBackCorpusText() {
        for (String text : List.of(
                "What work's, my countrymen, in hand? where go you",
                "MENENIUS:\nWhat work's, my countrymen, in hand?",
                "Hang 'em! They say!",
                "'Tis not to save labour, nor that I want love.",
                "As well as speak--it tauntingly replied")) {
            int[] ids = model.encode(text);
            assertEquals(text, model.detokenize(ids, 0, ids.length));
        }
    }

    @Test
    void tokensAreWordsPunctuationAndParagraphNewlines() {
        int[] ids = model.encode("MENENIUS:\nWhy, masters,\nmy good friends.\n\nFirst Citizen:");
        String[] tokens = Arrays.stream(ids).mapToObj(model::token).toArray(String[]::new);
        assertArrayEquals(new String[] {"MENENIUS", ":", "\n", "Why", ",", "masters", ",", "my", "good",
                "friends", ".", "\n", "First", "Citizen", ":"}, tokens);
    }

    @Test
    void detokenizingPieceByPieceMatchesDetokenizingAtOnce() {
        int[] ids = model.encode("MENENIUS:\nNay, these are almost thoroughly persuaded; 'tis true.");
        StringBuilder streamed = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            streamed.append(model.detokenize(ids, i, i + 1));
        }
        assertEquals(model.detokenize(ids, 0, ids.length), streamed.toString());
    }

    @Test
    void unknownWordsFallBackToAnotherCaseOrAreSkipped() {
        assertArrayEquals(model.encode("king"), model.encode("KING"));
        assertArrayEquals(model.encode("Rome"), model.encode("Zzyzx Rome"));
        assertEquals(0, model.encode("").length);
    }

    @Test
    void seenTrigramOutscoresUnseenContinuation() {
        int[] history = model.encode("hear me"); // the corpus opens "hear me speak."
        float[] out = new float[model.vocabSize()];
        model.logits(history, history.length, out);
        int seen = model.encode("speak")[0];
        int unseen = model.encode("Jupiter")[0];
        assertTrue(out[seen] > out[unseen], out[seen] + " <= " + out[unseen]);
    }

    @Test
    void trainingIsDeterministicAndNumbersTokensByFirstAppearance() {
        NgramModel again = NgramModel.bundled();
        assertEquals(model.vocabSize(), again.vocabSize());
        for (int id = 0; id < model.vocabSize(); id++) {
            assertEquals(model.token(id), again.token(id));
        }
        assertEquals(List.of("</s>", "First", "Citizen", ":", "\n", "Before"),
                List.of(model.token(0), model.token(1), model.token(2), model.token(3), model.token(4),
                        model.token(5)));
        int[] history = model.encode("What work's, my countrymen, in hand?");
        float[] first = new float[model.vocabSize()];
        float[] second = new float[model.vocabSize()];
        for (int length = 0; length <= history.length; length++) {
            model.logits(history, length, first);
            again.logits(history, length, second);
            assertArrayEquals(first, second);
        }
    }

    /**
     * "a b a b a c a b" is trained as the stream {@code </s> a b a b a c a b </s>} (ids 0 1 2 1 2 1 3 1 2 0).
     * Witten–Bell: P(w|h) = (c(h,w) + T(h)·P(w|h')) / (c(h) + T(h)), with c(h) tokens and T(h)
     * distinct tokens seen after h. Unigram over the 9 predicted tokens (a 4, b 3, c 1, </s> 1),
     * T = 4 types, interpolated with uniform 1/4: P(w) = (c(w) + 1) / 13, so a 5/13, b 4/13,
     * c 2/13, </s> 2/13.
     */
    @Test
    void tinyCorpusGivesHandComputedProbabilities() {
        NgramModel tiny = NgramModel.train("a b a b a c a b");
        assertEquals(4, tiny.vocabSize());
        int eos = 0;
        int a = 1;
        int b = 2;
        int c = 3;
        assertArrayEquals(new int[] {a, b}, tiny.encode("a b"));

        // After b: a twice, </s> once (c = 3, T = 2): P(w|b) = (c(b,w) + 2·P(w)) / 5
        //   = a (2 + 10/13)/5 = 36/65, </s> (1 + 4/13)/5 = 17/65, b 8/65, c 4/65.
        // After (a, b): a twice, </s> once (c = 3, T = 2): P(w|a,b) = (c(a,b,w) + 2·P(w|b)) / 5
        //   = a (2 + 72/65)/5 = 202/325, </s> (1 + 34/65)/5 = 99/325, b 16/325, c 8/325.
        double[] expected = new double[4];
        expected[a] = 202.0 / 325;
        expected[eos] = 99.0 / 325;
        expected[b] = 16.0 / 325;
        expected[c] = 8.0 / 325;
        assertProbabilities(tiny, new int[] {a, b}, expected);

        // (c, b) never occurs, so P(w|c,b) is just P(w|b).
        expected[a] = 36.0 / 65;
        expected[eos] = 17.0 / 65;
        expected[b] = 8.0 / 65;
        expected[c] = 4.0 / 65;
        assertProbabilities(tiny, new int[] {c, b}, expected);
    }

    private static void assertProbabilities(NgramModel m, int[] history, double[] expected) {
        float[] out = new float[m.vocabSize()];
        m.logits(history, history.length, out);
        for (int w = 0; w < expected.length; w++) {
            assertEquals(expected[w], Math.exp(out[w]), 1e-6, "P(" + m.token(w) + ")");
        }
    }
}
