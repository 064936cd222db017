'use strict';
// ioredis 6: sends HELLO 3 on connect by default (RESP3), falls back to RESP2.
const Redis = require('ioredis6');
const { guard } = require('./lib');
const { suite } = require('./ioredis-suite');

guard('ioredis6', () => suite('ioredis6', Redis));
