package org.arunet.data.dataset;

/** What to do with an item that cannot be used (missing mask, corrupt file, wrong size, ...). */
public enum BadItemPolicy {
    /** Stop with a {@link org.arunet.data.io.DataException} naming the file, before anything is trained. */
    FAIL,
    /** Leave the item out, log a warning and count it in the report ({@link ScanReport}, loader report). */
    SKIP
}
