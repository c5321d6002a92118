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
        Throwable t = ex instanceof OutOfMemory ? ex.getCause() : ex;
        if (t instanceof UncheckedIOException
                && t.getCause() != null
                && (t.getMessage() == null || t.getMessage().equals(t.getCause().toString()))) {
            t = t.getCause(); // a bare wrapper: its message would only repeat the cause's class name
        }
        String msg = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        if (t instanceof java.nio.file.FileSystemException f) {
            msg = describe(f); // NIO's message is only the path
        }
        if (t instanceof OutOfMemoryError) {
            boolean model = cmd.getCommandSpec().findOption("--width") != null;
            msg = "out of memory: " + msg
                    + (model ? " (lower --width, --batch-size or --image-size, or give" : " (give")
                    + " the JVM more memory: ARUNET_JAVA_OPTS=-Xmx...)";
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

    /** "path: reason", e.g. "/data/out: permission denied" (the reason from the OS or the exception's kind). */
    static String describe(java.nio.file.FileSystemException f) {
        String why = f.getReason() != null
                ? f.getReason()
                : f instanceof java.nio.file.AccessDeniedException
                        ? "permission denied"
                        : f instanceof java.nio.file.FileAlreadyExistsException
                                ? "a file is in the way"
                                : f instanceof java.nio.file.NoSuchFileException
                                        ? "no such file or folder"
                                        : f instanceof java.nio.file.NotDirectoryException
                                                ? "not a folder"
                                                : f.getClass().getSimpleName();
        return (f.getFile() != null ? f.getFile() : "") + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "")
                + ": " + why;
    }

    /** Carries an {@link OutOfMemoryError} of a command to {@link #report} (picocli hands it Exceptions only). */
    static final class OutOfMemory extends RuntimeException {
        OutOfMemory(OutOfMemoryError cause) {
            super(cause.getMessage(), cause);
        }
    }

    /** An invalid combination of options, found after parsing: reported like a usage error (exit 2). */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
