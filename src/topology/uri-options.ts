/**
 * The option names the MongoDB driver (6.x) accepts in a connection string: the keys of its
 * `OPTIONS` table (`mongodb/lib/connection_string.ts`), which `parseOptions` checks every query
 * parameter against, case-insensitively. The pure core cannot import the driver, so the list is
 * copied here; test/unit/topology/uri-options.test.ts fails when it drifts from the installed driver.
 */
const NAMES = [
  'appName', 'auth', 'authMechanism', 'authMechanismProperties', 'authSource', 'autoEncryption',
  'autoSelectFamily', 'autoSelectFamilyAttemptTimeout', 'bsonRegExp', 'serverApi', 'checkKeys',
  'compressors', 'connectTimeoutMS', 'dbName', 'directConnection', 'driverInfo', 'enableUtf8Validation',
  'family', 'fieldsAsRaw', 'forceServerObjectId', 'fsync', 'heartbeatFrequencyMS', 'ignoreUndefined', 'j',
  'journal', 'loadBalanced', 'localThresholdMS', 'maxConnecting', 'maxIdleTimeMS', 'maxPoolSize',
  'maxStalenessSeconds', 'minInternalBufferSize', 'minPoolSize', 'minHeartbeatFrequencyMS',
  'monitorCommands', 'name', 'noDelay', 'pkFactory', 'promoteBuffers', 'promoteLongs', 'promoteValues',
  'useBigInt64', 'proxyHost', 'proxyPassword', 'proxyPort', 'proxyUsername', 'raw', 'readConcern',
  'readConcernLevel', 'readPreference', 'readPreferenceTags', 'replicaSet', 'retryReads', 'retryWrites',
  'serializeFunctions', 'serverMonitoringMode', 'serverSelectionTimeoutMS', 'servername', 'socketTimeoutMS',
  'srvMaxHosts', 'srvServiceName', 'ssl', 'timeoutMS', 'tls', 'tlsAllowInvalidCertificates',
  'tlsAllowInvalidHostnames', 'tlsCAFile', 'tlsCRLFile', 'tlsCertificateKeyFile',
  'tlsCertificateKeyFilePassword', 'tlsInsecure', 'w', 'waitQueueTimeoutMS', 'writeConcern', 'wtimeout',
  'wtimeoutMS', 'zlibCompressionLevel', 'mongodbLogPath', 'mongodbLogComponentSeverities',
  'mongodbLogMaxDocumentLength', 'connectionType', 'srvPoller', 'allowPartialTrustChain', 'minDHSize',
  'pskCallback', 'secureContext', 'enableTrace', 'requestCert', 'rejectUnauthorized', 'checkServerIdentity',
  'keepAliveInitialDelay', 'ALPNProtocols', 'SNICallback', 'session', 'requestOCSP', 'localAddress',
  'localPort', 'hints', 'lookup', 'ca', 'cert', 'ciphers', 'crl', 'ecdhCurve', 'key', 'passphrase', 'pfx',
  'secureProtocol', 'index', 'useNewUrlParser', 'useUnifiedTopology', '__skipPingOnConnect',
] as const;

/** Lower-cased option names, for the driver's case-insensitive lookup. */
export const DRIVER_URI_OPTIONS: ReadonlySet<string> = new Set(NAMES.map((name) => name.toLowerCase()));
