package org.arunet.data.split;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.arunet.data.io.DataException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed split files beyond the escapes of {@code SplitsTest}: each refused, naming the file. */
class SplitFileHostileTest {
    @TempDir
    Path root;

    Path file;

    @BeforeEach
    void files() throws IOException {
        Files.createDirectories(root.resolve("images"));
        Files.write(root.resolve("images/a.png"), new byte[] {1});
        Files.write(root.resolve("images/b.png"), new byte[] {1});
        file = root.resolve("split.json");
    }

    private static String split(String train) {
        return "{\"formatVersion\":1,\"seed\":0,\"method\":\"m\",\"fractions\":[],\"counts\":{},\"duplicateGroups\":0,"
                + "\"samplesInDuplicateGroups\":0,\"duplicates\":[],\"train\":" + train + ",\"val\":[],\"test\":[]}";
    }

    private DataException refused(String json) throws IOException {
        Files.writeString(file, json);
        DataException e = assertThrows(DataException.class, () -> Split.load(file, root));
        assertEquals(file, e.file(), e.getMessage());
        return e;
    }

    @Test
    void aValidFileLoads() throws IOException {
        Files.writeString(file, split("[\"images/a.png\"]"));
        assertEquals(1, Split.load(file, root).train().size());
    }

    @Test
    void controlCharactersInIdsAreRefused() throws IOException {
        // A NUL used to escape as java.nio.file.InvalidPathException from Path.resolve.
        for (String id : new String[] {"images/a\\u0000.png", "images/\\u0007a.png", "images/a.png\\n"}) {
            DataException e = refused(split("[\"" + id + "\"]"));
            assertTrue(e.getMessage().contains("control character"), e.getMessage());
        }
    }

    @Test
    void trailingContentAndDuplicateKeysAreRefused() throws IOException {
        // Both used to be accepted: the second object or the first "train" silently ignored.
        DataException trailing = refused(split("[\"images/a.png\"]") + " {\"train\": [\"images/b.png\"]}");
        assertTrue(trailing.getMessage().contains("not a valid split file"), trailing.getMessage());
        String twice = split("[\"images/a.png\"]").replace("\"val\":[]", "\"val\":[],\"train\":[\"images/b.png\"]");
        DataException dup = refused(twice);
        assertTrue(dup.getMessage().contains("Duplicate field 'train'"), dup.getMessage());
    }

    @Test
    void wrongTypesNullsAndMissingPartsAreRefused() throws IOException {
        for (String bad : new String[] {
            split("[null]"),
            split("null"),
            split("\"images/a.png\""),
            split("[1, 2]"),
            split("[[\"images/a.png\"]]"),
            split("{}"),
            "[]",
            "null",
            "",
            "{",
            "{\"formatVersion\": \"one\"}",
            split("[\"images/a.png\"]").replace("\"formatVersion\":1", "\"formatVersion\":2"),
            split("[\"images/a.png\"]").replace("\"test\":[]", "\"test\":null"),
            split("[\"images/a.png\"]").replace("\"duplicates\":[]", "\"duplicates\":[null]")
        }) {
            refused(bad);
        }
    }

    @Test
    void deepNestingIsRefusedWithoutAStackOverflow() throws IOException {
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        DataException e = refused(split(deep));
        assertTrue(e.getMessage().contains("not a valid split file"), e.getMessage());
    }
}
