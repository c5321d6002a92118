package org.arunet.data.dataset;

/** Where a sample's class label (used to stratify splits) comes from. */
public enum ClassSource {
    /**
     * The CSV {@code class} column when there is one; otherwise the class folder (the first folder
     * under {@code images/}, or BUSI's class folder); otherwise the name prefix.
     */
    AUTO,
    /** The folder: the first folder under {@code images/}, BUSI's class folder. */
    FOLDER,
    /** The leading letters of the file name before a separator or digit: {@code benign_001} gives {@code benign}. */
    NAME_PREFIX,
    /** No class: every sample is unlabelled, splits are not stratified. */
    NONE
}
