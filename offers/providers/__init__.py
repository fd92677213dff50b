"""Billing providers: adapters implementing `offers.ports.BillingProvider`; picked only by service.app."""
