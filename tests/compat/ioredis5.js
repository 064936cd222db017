'use strict';
// ioredis 5: RESP2 only.
const Redis = require('ioredis5');
const { guard } = require('./lib');
const { suite } = require('./ioredis-suite');

guard('ioredis5', () => suite('ioredis5', Redis, { protocol: 2 }));
