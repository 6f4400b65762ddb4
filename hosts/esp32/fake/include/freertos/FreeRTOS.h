/* Fake ESP-IDF for CI: FreeRTOS.h. */
#pragma once
#include <stdint.h>
typedef uint32_t TickType_t;
