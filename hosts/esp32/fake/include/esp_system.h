/* Fake ESP-IDF for CI: esp_system.h. */
#pragma once
void esp_restart(void) __attribute__((noreturn));
