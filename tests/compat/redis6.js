'use strict';
// node `redis` 6: RESP3 (HELLO 3), CLIENT SETINFO, CLIENT MAINT_NOTIFICATIONS probing.
const redis = require('redis6');
const { guard } = require('./lib');
const { suite } = require('./redis-suite');

guard('redis6', () => suite('redis6', redis, 3));
