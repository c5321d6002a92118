package org.arunet.video;

import org.bytedeco.ffmpeg.global.avutil;

/** FFmpeg set up once for the library. */
final class Ffmpeg {
    static {
        // FFmpeg's own log lines (stream dumps, decoder warnings) go nowhere: every failure reaches the
        // caller as an exception that names the file, and a library must not write to standard error.
        avutil.av_log_set_level(avutil.AV_LOG_QUIET);
    }

    private Ffmpeg() {}

    /** Loads FFmpeg and silences its logging (once; later calls do nothing). */
    static void init() {
        // the static initialiser above does the work
    }
}
