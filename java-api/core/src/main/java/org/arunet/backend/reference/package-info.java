/**
 * The pure-Java reference backend: {@link org.arunet.backend.reference.ReferenceBackend} implements
 * {@link org.arunet.backend.Backend} on host tensors with naive double-precision loops
 * ({@link org.arunet.backend.reference.RefOps}, {@link org.arunet.backend.reference.Erf}). It is the test
 * oracle that the native backends are compared against; readability and exactness come before speed.
 */
package org.arunet.backend.reference;
