package org.arunet.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import picocli.CommandLine;

/** Turns a failure into one clear line (and the stack trace with --verbose); exit code 1. */
final class Errors {
    private Errors() {}

    static int report(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        boolean verbose = parsed.hasMatchedOption("--verbose");
        if (ex instanceof UsageException u) {
            err.println("arunet " + cmd.getCommandName() + ": " + u.getMessage());
            cmd.usage(err);
            return 2;
        }
        Throwable t = ex;
        if (t instanceof UncheckedIOException && t.getCause() != null) {
            t = t.getCause();
        }
        String msg = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        if (t instanceof OutOfMemoryError) {
            msg = "out of memory: " + msg + " (lower --batch-size or --image-size, or give the JVM more memory)";
        }
        err.println("arunet " + cmd.getCommandName() + ": error: " + msg);
        if (verbose) {
            ex.printStackTrace(err);
        } else {
            err.println("(run with --verbose for details)");
        }
        err.flush();
        return 1;
    }

    /** An invalid combination of options, found after parsing: reported like a usage error (exit 2). */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
