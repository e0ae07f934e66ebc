/** The Vigil release this code is; reported as service.version by every role. */
export const VIGIL_VERSION = '0.1.0';
