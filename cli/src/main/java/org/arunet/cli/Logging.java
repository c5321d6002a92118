package org.arunet.cli;

/** Configures SLF4J's simple logger (to stderr) before the first logger is created. */
final class Logging {
    private Logging() {}

    static void configure(boolean verbose, boolean json) {
        set("org.slf4j.simpleLogger.logFile", "System.err");
        set("org.slf4j.simpleLogger.defaultLogLevel", verbose ? "debug" : json ? "warn" : "info");
        set("org.slf4j.simpleLogger.showThreadName", "false");
        set("org.slf4j.simpleLogger.showLogName", verbose ? "true" : "false");
        set("org.slf4j.simpleLogger.showShortLogName", "true");
        set("org.slf4j.simpleLogger.levelInBrackets", "true");
    }

    private static void set(String k, String v) {
        if (System.getProperty(k) == null) {
            System.setProperty(k, v);
        }
    }
}
