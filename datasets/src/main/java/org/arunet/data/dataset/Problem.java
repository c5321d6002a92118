package org.arunet.data.dataset;

import java.nio.file.Path;

/**
 * One item left out or one oddity noticed, for reports.
 *
 * @param file the file at fault
 * @param problem what is wrong with it
 */
public record Problem(Path file, String problem) {
    @Override
    public String toString() {
        return file + ": " + problem;
    }
}
